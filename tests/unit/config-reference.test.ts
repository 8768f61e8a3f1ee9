import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Concern } from "../../lib/config/catalogue.ts";
import { declare, integer, text } from "../../lib/config/declare.ts";
import { renderReference } from "../../scripts/config-reference.ts";

describe("docs/configuration.md", () => {
  it("is what the declarations in lib/config/ generate (run npm run docs:config after changing a setting)", () => {
    const current = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    expect(current).toBe(renderReference());
  });

  it("shows each setting's default, values, readers, local forwarding and meaning", () => {
    const base = declare("A_BASE_MS", integer(1), { default: 300_000, doc: "base.", readBy: ["api"] });
    const concern: Concern = {
      title: "Example",
      settings: [
        base,
        declare("A_CEILING_MS", integer(base), {
          default: 600_000,
          doc: "a | b.",
          readBy: ["api", "drainOutbox", "deadLetter", "maintenance", "migrate", "scripts"],
        }),
        declare("A_NAME", text(), {
          default: (env) => `${env.A_PREFIX ?? "p"}.x`,
          defaultText: "<A_PREFIX>.x",
          doc: "named.",
          readBy: ["drainOutbox"],
          setBy: "serverless.ts",
          needs: base,
        }),
        declare("A_TOOL_ONLY", text(), { default: "", doc: "tools.", readBy: ["scripts"] }),
      ],
    };
    const table = renderReference([concern])
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split(/\s+\|\s+/).map((cell) => cell.replace(/^\| |\s*\|$/g, "").trim()));
    expect(table).toEqual([
      ["`A_BASE_MS`", "300000 (5 min)", "integer ≥ 1", "api", "from the shell", "base."],
      [
        "`A_CEILING_MS`",
        "600000 (10 min)",
        "integer ≥ A_BASE_MS",
        "every function, (scripts)",
        "from the shell",
        "a \\| b.",
      ],
      ["`A_NAME`", "<A_PREFIX>.x", "text", "drainOutbox", "set by serverless.ts", "named. Needs A_BASE_MS."],
      ["`A_TOOL_ONLY`", "empty", "text", "(scripts)", "—", "tools."],
    ]);
  });
});
