// Waits until LocalStack has run its init scripts, and fails loudly if any ended in ERROR.
// /_localstack/init/ready reports "completed": true even then, so each script's state is read.
//
//   node localstack/ready.mjs <endpoint> [timeout seconds, default 120]
const [endpoint = "http://127.0.0.1:4566", timeoutArg = "120"] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;

for (;;) {
  let status;
  try {
    const response = await fetch(`${endpoint}/_localstack/init`, { signal: AbortSignal.timeout(5000) });
    if (response.ok) status = await response.json();
  } catch {
    // Not up yet.
  }
  const failed = (status?.scripts ?? []).filter((script) => script.state === "ERROR");
  if (failed.length > 0) {
    const names = failed.map((script) => `${script.stage}/${script.name}`).join(", ");
    console.error(
      `LocalStack at ${endpoint}: init script failed: ${names} (its output is in LocalStack's log)`,
    );
    process.exit(1);
  }
  if (status?.completed?.READY) process.exit(0);
  if (Date.now() > deadline) {
    console.error(
      status
        ? `LocalStack at ${endpoint}: init scripts not finished after ${timeoutArg} s`
        : `LocalStack is not answering at ${endpoint} (docker compose up -d --wait, or see localstack/README.md)`,
    );
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
