// Package config is the registry of every setting Strata knows, by its Kafka name: type,
// default, scope, validation and documentation. One table (settings.go) drives broker
// settings validation, the resolution of a topic's effective configuration (topic override,
// then broker default, then built-in default), DescribeConfigs answers (value, source,
// synonyms) and the generated docs/configuration.md.
//
// Values are kept as strings, in Kafka's textual form, everywhere (files, wire, flags); the
// typed getters of Resolved parse them. A value that passed Validate always parses.
//
// Concurrency: the table is immutable after init; every function is safe for concurrent
// use. Maps passed in are only read.
//
// It imports nothing of Strata: the server, the metadata store and the replica manager
// read it.
package config
