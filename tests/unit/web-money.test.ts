import { describe, expect, it } from "vitest";
import { formatAmount, parseAmount } from "../../web/src/money.ts";

describe("web client money", () => {
  it("parses decimal text into minor units of the currency", () => {
    expect(parseAmount("12.50", "EUR")).toEqual({ ok: true, minorUnits: 1250n });
    expect(parseAmount(" 7 ", "EUR")).toEqual({ ok: true, minorUnits: 700n });
    expect(parseAmount("0.1", "EUR")).toEqual({ ok: true, minorUnits: 10n });
    expect(parseAmount("1500", "JPY")).toEqual({ ok: true, minorUnits: 1500n });
    expect(parseAmount("90071992547409.91", "EUR")).toEqual({ ok: true, minorUnits: 9007199254740991n });
  });

  it("refuses what it would have to round or cannot send", () => {
    expect(parseAmount("1.005", "EUR")).toEqual({ ok: false, message: "EUR has 2 decimal places" });
    expect(parseAmount("1.5", "JPY")).toEqual({ ok: false, message: "JPY has 0 decimal places" });
    expect(parseAmount("0.00", "EUR")).toMatchObject({ ok: false });
    expect(parseAmount("-3", "EUR")).toMatchObject({ ok: false });
    expect(parseAmount("1e3", "EUR")).toMatchObject({ ok: false });
    expect(parseAmount("", "EUR")).toMatchObject({ ok: false });
    expect(parseAmount("90071992547409.92", "EUR")).toEqual({
      ok: false,
      message: "The amount is too large",
    });
  });

  it("formats minor units exactly, beyond what a Number holds", () => {
    expect(formatAmount(1250n, "EUR")).toBe("€12.50");
    expect(formatAmount(5n, "EUR")).toBe("€0.05");
    expect(formatAmount(-725n, "EUR")).toBe("-€7.25");
    expect(formatAmount(1500n, "JPY")).toBe("¥1,500");
    expect(formatAmount(9007199254740993n, "USD")).toBe("$90,071,992,547,409.93");
  });
});
