// Package ringdskit sets stage13's hash ring beside Mimir's
// (github.com/grafana/dskit/ring): balance and movement on join for 3 to
// 100 nodes. It is a module of its own, outside the workspace: dskit
// builds on Grafana's fork of memberlist, which would replace the
// memberlist stage13 runs on in every module of a workspace. Run it with
// GOWORK=off.
package ringdskit
