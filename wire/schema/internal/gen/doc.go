// Command gen writes ../../requests_gen.go: the request schemas of every API kmsg knows,
// read from the protocol definitions that kmsg itself is generated from (franz-go's
// generate/definitions, in the franz-go module that go.mod requires). Run it with
// go generate in wire/schema after bumping franz-go and kmsg together.
//
// It reads only what a structural check needs of each request: the fields, their wire
// types, the versions that carry them, where null is allowed, and tags. It refuses any
// construct it does not understand, so that a new one in the definitions is noticed.
package main
