/** The verified caller of a request. */
export interface Principal {
  /** The token's subject; account owners are subjects. */
  subject: string;
  /** Holds the operator scope or role: may open any account and pay from system accounts. */
  operator: boolean;
  /**
   * Epoch ms when the token stops counting: its exp, or iat plus
   * JWT_MAX_TOKEN_AGE_SECONDS when that is sooner. Whatever outlives one call
   * (a stream) ends here.
   */
  validUntilMs: number;
}
