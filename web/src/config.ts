// Set by the bundler (web/bundle.ts): the API's base URL, and whether the dev server serves the page.
declare const __API_URL__: string;
declare const __DEV_SERVER__: boolean;

export const config = {
  apiUrl: __API_URL__,
  /** The dev server's session and event endpoints exist; never true in a static build. */
  devServer: __DEV_SERVER__,
} as const;
