import { describe, expect, it } from "vitest";
import { bundleWebClient } from "../../web/bundle.ts";

const text = (assets: Awaited<ReturnType<typeof bundleWebClient>>, name: string) =>
  new TextDecoder().decode(assets.get(name)?.body);

describe("web client bundle", () => {
  it("a static build calls only the API it was built for and has no dev-only path", async () => {
    const assets = await bundleWebClient({
      apiUrl: "https://api.example.com/",
      devServer: false,
      minify: true,
    });
    expect([...assets.keys()].sort()).toEqual(["app.js", "app.js.map", "index.html", "styles.css"]);
    const app = text(assets, "app.js");
    expect(app).toContain('"https://api.example.com"');
    for (const devOnly of ["/dev/session", "/dev/events", "EventSource"]) expect(app).not.toContain(devOnly);
    expect(text(assets, "index.html")).toContain("connect-src 'self' https://api.example.com;");
  });

  it("the dev server's build signs in through it and streams its events", async () => {
    const app = text(await bundleWebClient({ apiUrl: "http://localhost:3000", devServer: true }), "app.js");
    expect(app).toContain("/dev/session");
    expect(app).toContain("/dev/events");
  });

  it("refuses an API URL a browser could not call", async () => {
    await expect(bundleWebClient({ apiUrl: "localhost:3000", devServer: false })).rejects.toThrow(
      /must be http or https/,
    );
    await expect(bundleWebClient({ apiUrl: "/api", devServer: false })).rejects.toThrow(/must be absolute/);
  });
});
