// Package bench measures certrotator's speed end to end with its real parts:
// a Vault dev server, the Graph client against the graphsim emulator, and
// (for the worker) an embedded NATS server. It has no production code; run
// it with `make bench` and report figures with the command.
package bench
