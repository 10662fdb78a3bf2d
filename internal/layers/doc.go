// Package layers holds no code: its tests check, with go list, that imports point down the
// layers only (docs/architecture.md, the redesign's import rules) and that every package
// has a doc.go saying what it owns and what it must not import.
package layers
