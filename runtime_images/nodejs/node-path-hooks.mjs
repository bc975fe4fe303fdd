// /var/runtime/node-path-hooks.mjs: let ES modules find packages in NODE_PATH's folders, as
// Lambda's Node.js runtimes (18 and later) do. Node.js itself reads NODE_PATH for require()
// only, so without this an `import ... from "@aws-sdk/client-s3"` in /var/task/index.mjs could
// not reach the SDK in /var/runtime/node_modules, nor a layer's /opt/nodejs/node_modules.
//
// The bootstrap preloads this file (--import). A bare specifier that Node.js resolves by itself
// (from the importing file's own node_modules, e.g. /var/task/node_modules) is left alone, so a
// copy the function bundles wins; only when that fails are NODE_PATH's node_modules folders
// tried, in NODE_PATH's order: the layers' before the runtime's. Node.js 22.15 and later run
// the hook in this thread (module.registerHooks); Node.js 20 in its loader thread
// (module.register), which loads this same file and uses its exported `resolve`.
import * as nodeModule from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";

// The folders to look in, as a file in each one's parent folder: resolving from there searches
// that node_modules first.
const anchors = (process.env.NODE_PATH || "")
  .split(path.delimiter)
  .filter((dir) => path.isAbsolute(dir) && path.basename(dir) === "node_modules")
  .map((dir) => pathToFileURL(path.join(path.dirname(dir), "[node-path].mjs")).href);

// A package name, not a relative path, an absolute one, a URL ("node:fs") or an import map
// entry ("#internal").
const isBare = (specifier) => !/^(?:[./#]|[A-Za-z][A-Za-z0-9+.-]*:)/.test(specifier);

const notFound = (error) => error?.code === "ERR_MODULE_NOT_FOUND";

function resolveSync(specifier, context, nextResolve) {
  try {
    return nextResolve(specifier, context);
  } catch (error) {
    if (!notFound(error) || !isBare(specifier)) throw error;
    for (const parentURL of anchors) {
      try {
        return nextResolve(specifier, { ...context, parentURL });
      } catch (again) {
        if (!notFound(again)) throw again;
      }
    }
    throw error;
  }
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!notFound(error) || !isBare(specifier)) throw error;
    for (const parentURL of anchors) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (again) {
        if (!notFound(again)) throw again;
      }
    }
    throw error;
  }
}

if (isMainThread && anchors.length > 0) {
  if (typeof nodeModule.registerHooks === "function") {
    nodeModule.registerHooks({ resolve: resolveSync });
  } else {
    nodeModule.register(import.meta.url);
  }
}
