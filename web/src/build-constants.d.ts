// Replaced by the bundler (web/bundle.ts) with literals, so `if (__DEV_SERVER__)` blocks,
// and the dev-only code only they reach, are left out of a static build.

/** The API's base URL, fixed at build time. */
declare const __API_URL__: string;
/** Served by `npm run dev`: its session and event endpoints exist. Never true in a static build. */
declare const __DEV_SERVER__: boolean;
