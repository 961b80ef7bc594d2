#!/usr/bin/env node
// Entry point of the `switchyard` command: runs the compiled CLI (built by `npm run build`).
import { main } from '../dist/cli/main.js';
main(process.argv).then((code) => { if (typeof code === 'number') process.exitCode = code; });
