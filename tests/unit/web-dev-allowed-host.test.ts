import { describe, expect, it } from "vitest";
import { devConfig } from "../../lib/config.ts";
import { hostName, isAllowedHost } from "../../web/dev/allowed-host.ts";

describe("DEV_ALLOWED_HOSTS", () => {
  it("always holds the loopback names, and adds the configured ones in lower case", () => {
    expect(devConfig({}).allowedHosts).toEqual(["localhost", "127.0.0.1", "[::1]"]);
    expect(devConfig({ DEV_ALLOWED_HOSTS: "Ledger.Test, 192.168.1.5,[fe80::1]" }).allowedHosts).toEqual([
      "localhost",
      "127.0.0.1",
      "[::1]",
      "ledger.test",
      "192.168.1.5",
      "[fe80::1]",
    ]);
  });

  it.each(["ledger.test:8080", "http://ledger.test", "*", "a b"])("refuses %s: host names only", (value) => {
    expect(() => devConfig({ DEV_ALLOWED_HOSTS: value })).toThrow(/DEV_ALLOWED_HOSTS/);
  });
});

describe("the Host check", () => {
  const allowed = devConfig({ DEV_ALLOWED_HOSTS: "ledger.test" }).allowedHosts;

  it("reads the name without its port", () => {
    expect(hostName("localhost:5173")).toBe("localhost");
    expect(hostName("[::1]:5173")).toBe("[::1]");
    expect(hostName("LOCALHOST")).toBe("localhost");
    expect(hostName(undefined)).toBe("");
  });

  it.each(["localhost:5173", "127.0.0.1", "[::1]:3000", "Ledger.Test:1"])("serves %s", (host) => {
    expect(isAllowedHost(host, allowed)).toBe(true);
  });

  it.each([
    undefined,
    "",
    "rebind.attacker.example:5173",
    "localhost.attacker.example",
    "evil@localhost:5173",
    "localhost:5173:1",
    "127.0.0.2",
    "localhost.",
  ])("refuses %s", (host) => {
    expect(isAllowedHost(host, allowed)).toBe(false);
  });
});
