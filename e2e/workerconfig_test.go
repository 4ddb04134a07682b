package e2e

import (
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/worker"
)

// workerConfig is the worker's Config from the file, mapped as
// cmd/certrotator maps it (internal/workerconfig).
func workerConfig(c *config.Config) worker.Config { return workerconfig.From(c) }
