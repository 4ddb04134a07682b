package contract

// deploy/nats's stream and consumer files, setup.sh, nats-permissions.conf
// and README's NATS contract table are written from this package's data;
// TestGeneratedFilesMatch fails when one differs.
//go:generate go run ./internal/gen
