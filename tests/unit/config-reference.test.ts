import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { documentedSettings, renderReference, undocumented } from "../../scripts/config-reference.ts";

const source = readFileSync(new URL("../../lib/config.ts", import.meta.url), "utf8");

describe("docs/configuration.md", () => {
  it("is what lib/config.ts generates (run npm run docs:config after changing a setting)", () => {
    const current = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    expect(current).toBe(renderReference(source));
  });

  it("documents every setting lib/config.ts reads, with its default", () => {
    expect(undocumented(source)).toEqual([]);
  });

  it("reads names, default and meaning from the comment forms the file uses", () => {
    const parsed = documentedSettings(`
      /** A_ONE, default 5: first. */
      /**
       * B_TWO / C_THREE, default empty: shared
       * over two lines.
       */
      /** D_FOUR, default 200: retry; E_FIVE, default 2000: ceiling. */
      /** Not a setting, default nothing. */
    `);
    expect(parsed).toEqual([
      { names: ["A_ONE"], default: "5", what: "first." },
      { names: ["B_TWO", "C_THREE"], default: "empty", what: "shared over two lines." },
      { names: ["D_FOUR"], default: "200", what: "retry" },
      { names: ["E_FIVE"], default: "2000", what: "ceiling." },
    ]);
    expect(undocumented('readInt(env, "A_ONE", 5); readString(env, "Z_MISSING", "")')).toEqual([
      "A_ONE",
      "Z_MISSING",
    ]);
  });
});
