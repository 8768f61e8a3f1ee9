import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";

/**
 * Another checkout of this repository, for benchmarks that measure two trees
 * in one run (`--tree`): its own modules, loaded from its own files (and so
 * its own node_modules), and the name its rows are printed under.
 */
export interface Tree {
  label: string;
  load<T>(path: string): Promise<T>;
}

export function treeAt(tree: string): Tree {
  const root = resolve(tree);
  return {
    label: tree === "." ? "this checkout" : tree,
    load: <T>(path: string): Promise<T> => import(pathToFileURL(resolve(root, path)).href),
  };
}

/** One statement on a connection of its own to `adminUrl`; the first row's column `v`, if any. */
export async function adminQuery(adminUrl: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ v?: string }>(sql);
    return rows[0]?.v ?? "";
  } finally {
    await client.end();
  }
}
