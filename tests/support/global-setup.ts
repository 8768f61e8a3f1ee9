import type { TestProject } from "vitest/node";
import { providePostgres } from "./postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

/** Starts the services every test file shares, once per run, and stops them after. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const postgres = await providePostgres();
  project.provide("pgAdminUrl", postgres.adminUrl);
  return async () => {
    await postgres.stop();
  };
}
