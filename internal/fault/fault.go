// Package fault marks the points of a run where a crash must be survivable.
// In a normal build Point does nothing. Tests set Hook to fail or stop at a
// named point; a binary built with -tags faultinject kills itself (SIGKILL)
// at the point named by the CDCMERGE_FAULT environment variable, so crash
// tests can kill a real process at an exact step.
package fault

// Points, in the order a batch passes them.
const (
	AfterList         = "after-list"
	MidRead           = "mid-read" // after each file of a batch is read, before the rest
	AfterRead         = "after-read"
	AfterDataFiles    = "after-data-files"
	AfterDeleteFiles  = "after-delete-files"
	BeforeCommit      = "before-commit"
	Commit            = "commit"          // the catalog commit call itself fails
	AfterManifests    = "after-manifests" // manifests and manifest list written, catalog not yet called
	AfterCommit       = "after-commit"
	AfterCommitReply  = "after-commit-reply"
	AfterSchemaCommit = "after-schema-commit"
	// DuringCleanup is reached after each file clean-orphans deletes.
	DuringCleanup = "during-cleanup"
)

// Hook, when set, is called at every point; an error it returns is
// returned by the run as if the step had failed.
var Hook func(point string) error

// Point marks a crash point.
func Point(name string) error {
	if Hook != nil {
		return Hook(name)
	}
	return nil
}
