#!/usr/bin/env node
/** The `pocchain` command (run on Node 24; bin/launch.js gets there from an older node). */
import { run } from './program.ts';

await run(process.argv);
