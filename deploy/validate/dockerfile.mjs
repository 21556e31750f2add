// Lints Dockerfiles offline with dockerfile-utils (the checks of the Dockerfile language server: unknown
// instructions and flags, missing or malformed arguments, invalid ports, stage names, ...). Prints one line per
// problem; exits 1 on any.
import { readFileSync } from "node:fs";
import { validate } from "dockerfile-utils";

let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const diagnostic of validate(readFileSync(file, "utf8"), {})) {
    problems++;
    console.log(`${file}:${diagnostic.range.start.line + 1}: ${diagnostic.message}`);
  }
}
console.log(`${problems} problems`);
process.exit(problems > 0 ? 1 : 0);
