// The esbuild plugins of every function bundle, for serverless-esbuild (custom.esbuild.plugins in
// infra/esbuild.ts). It require()s them from this file: plugin objects written into the config
// itself do not survive the framework's copy of it. tsx, which loads serverless.ts too, loads
// the TypeScript.
const { require: requireTs } = require("tsx/cjs/api");

const { descriptorSnapshots } = requireTs("./esbuild-descriptor-snapshots.ts", __filename);

module.exports = [descriptorSnapshots()];
