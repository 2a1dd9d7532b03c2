import { readFileSync } from "node:fs";
import { packageFile } from "./util/paths.js";

/** seec's version, from package.json. */
export const SEEC_VERSION: string = JSON.parse(readFileSync(packageFile("package.json"), "utf8")).version;
