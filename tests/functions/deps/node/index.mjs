// A Node.js function whose package.json and package-lock.json bring its dependency (ms).
import ms from "ms";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const handler = async () => ({
  twoDays: ms("2 days"),
  msVersion: require("ms/package.json").version,
  resolved: require.resolve("ms"),
});
