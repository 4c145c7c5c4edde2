/**
 * The command line: parses a command and its flags and runs it. Every command
 * answers `--help`; mistakes get a one-line error that says what to do.
 *
 * @module
 */
export { runCli, type RunCliOptions } from "./run.ts";
export { CliError } from "./cli_error.ts";
