// Package deploy holds the ECS deployment of cdcmerge: the Fargate task
// definition, the IAM policies and trust policies of its roles, and the
// EventBridge Scheduler schedule (see README.md here). It has no code; its
// tests lint those files, the Dockerfile and .dockerignore at the repository
// root, and build the binary the Dockerfile builds with
// scripts/build-static.sh, so nothing here is untested text.
package deploy
