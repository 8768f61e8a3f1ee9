/**
 * `.dev/env.sh`: what other commands need to reach a running `npm run dev` (`. .dev/env.sh` in a
 * second terminal), so README commands work as written whatever ports and ids the run got.
 * The run removes it when it stops.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { connectClient } from "../../lib/db/pool.ts";
import { TREASURY_OWNER } from "../../lib/payments/funding.ts";
import { DEMO_CURRENCY } from "../demo-seed.ts";
import { shellAssignments } from "./dev-instructions.ts";

/** Writes `values` as export lines into `file`; resolves with its path. */
export async function writeDevEnv(file: string, values: Record<string, string>): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  const lines = Object.entries(values).map(
    ([name, value]) => `export ${shellAssignments({ [name]: value })}`,
  );
  await writeFile(
    file,
    `# Written by npm run dev for this run; removed when it stops.\n${lines.join("\n")}\n`,
  );
  return file;
}

/** The demo's treasury account (TREASURY_ACCOUNT), which the seed made. */
export async function treasuryAccountId(databaseUrl: string): Promise<string> {
  const client = await connectClient(databaseUrl);
  try {
    const { rows } = await client.query<{ id: string }>(
      "SELECT id FROM accounts WHERE owner = $1 AND currency = $2 AND is_system ORDER BY id LIMIT 1",
      [TREASURY_OWNER, DEMO_CURRENCY],
    );
    const id = rows[0]?.id;
    if (!id) throw new Error("the demo seed left no treasury account");
    return id;
  } finally {
    await client.end();
  }
}
