import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

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

/** The checkouts named by `--tree` (repeatable), or this one. */
export function treesArg(argv: readonly string[] = process.argv): string[] {
  const trees = argv.flatMap((arg, i) => (arg === "--tree" ? [argv[i + 1] ?? "."] : []));
  return trees.length > 0 ? trees : ["."];
}
