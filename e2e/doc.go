// Package e2e holds certrotator's end-to-end tests: the real pipeline over a
// real Vault dev server, the real Graph client against the graphsim
// emulator and, for the worker, an embedded NATS server. It has no
// production code.
package e2e
