#!/usr/bin/env node
/**
 * The `jatp` command: one binary, one subcommand per file in this folder (each exports `register`).
 * Results go to stdout, progress and warnings to stderr; a failing command prints one line naming
 * the flag or file at fault and exits with status 1 (2 for usage errors, from commander).
 */
import { Command } from 'commander';
import { register as registerData } from './data.js';
import { register as registerEval } from './eval.js';
import { register as registerExperiment } from './experiment.js';
import { register as registerModels } from './models.js';
import { register as registerReport } from './report.js';
import { register as registerTrainDefense } from './train-defense.js';
import { register as registerTrainTarget } from './train-target.js';

const program = new Command();
program
  .name('jatp')
  .description('Pre-processing defenses against adversarial examples (JATP, APE-G, HGD, NRP) and adaptive white-box attacks')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

for (const register of [registerData, registerModels, registerTrainTarget, registerTrainDefense, registerEval, registerExperiment, registerReport]) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`jatp: ${message}\n`);
  if (process.env.JATP_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  // A command that set a signal's status (130 / 143) before failing keeps it; anything else is 1.
  process.exit(typeof process.exitCode === 'number' && process.exitCode > 1 ? process.exitCode : 1);
});
