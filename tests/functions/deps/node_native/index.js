// A Node.js function whose dependency is a native addon that node-gyp compiles at install.
const addon = require("tiny-addon");

exports.handler = async () => ({ ...addon.answer(), node: process.versions.node.split(".")[0] });
