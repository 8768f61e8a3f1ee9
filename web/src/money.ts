/**
 * Money on the page: integer minor units (bigint) in, decimal text out, with
 * the currency's own number of decimals (EUR 2, JPY 0) from Intl.
 */

const MAX_MINOR_UNITS = 2n ** 53n - 1n;

export function currencyDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

export type ParsedAmount = { ok: true; minorUnits: bigint } | { ok: false; message: string };

/** "12.50" in EUR → 1250n. Refuses more decimals than the currency has, rather than rounding. */
export function parseAmount(text: string, currency: string): ParsedAmount {
  const digits = currencyDigits(currency);
  const trimmed = text.trim();
  const match = /^(\d+)(?:\.(\d*))?$/.exec(trimmed);
  if (!match) return { ok: false, message: "Enter an amount such as 12.50" };
  const [, whole = "", fraction = ""] = match;
  if (fraction.length > digits)
    return { ok: false, message: `${currency} has ${digits} decimal place${digits === 1 ? "" : "s"}` };
  const minorUnits = BigInt(whole + fraction.padEnd(digits, "0"));
  if (minorUnits < 1n) return { ok: false, message: "The amount must be more than zero" };
  if (minorUnits > MAX_MINOR_UNITS) return { ok: false, message: "The amount is too large" };
  return { ok: true, minorUnits };
}

/** 1250n, "EUR" → "€12.50"; negative amounts keep their sign. */
export function formatAmount(minorUnits: bigint, currency: string): string {
  const digits = currencyDigits(currency);
  const negative = minorUnits < 0n;
  const abs = (negative ? -minorUnits : minorUnits).toString().padStart(digits + 1, "0");
  const decimal =
    digits === 0 ? abs : `${abs.slice(0, abs.length - digits)}.${abs.slice(abs.length - digits)}`;
  try {
    const format = new Intl.NumberFormat("en", { style: "currency", currency });
    // A decimal string keeps every digit; a Number would lose some above 2^53.
    return format.format(`${negative ? "-" : ""}${decimal}` as Intl.StringNumericLiteral);
  } catch {
    return `${negative ? "-" : ""}${decimal} ${currency}`;
  }
}
