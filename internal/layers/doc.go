// Package layers holds no code: its test checks that imports point down the layers only
// (docs/architecture in ../shared/DESIGN.md, the redesign's import rules), with go list.
package layers
