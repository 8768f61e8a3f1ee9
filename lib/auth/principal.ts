/** The verified caller of a request. */
export interface Principal {
  /** The token's subject; account owners are subjects. */
  subject: string;
  /** Holds the operator scope or role: may open any account and pay from system accounts. */
  operator: boolean;
}
