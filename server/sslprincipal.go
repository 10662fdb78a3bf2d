package server

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// principalMapper turns the subject of a client certificate (its distinguished name,
// RFC 2253) into a principal name: Kafka's ssl.principal.mapping.rules. Rules are tried in
// order; the first that applies gives the name; when none does, the client is refused.
//
//	DEFAULT                              the whole distinguished name
//	RULE:pattern/replacement/[L|U]       when pattern matches the whole name: the name
//	                                     with pattern replaced (Java's $1 back references),
//	                                     then lower- (L) or upper-cased (U)
//
// Patterns are Go regular expressions (RE2), which accept Java's usual syntax but not
// back references in patterns or look-around. A mapper is immutable: safe for concurrent
// use.
type principalMapper []principalRule

type principalRule struct {
	isDefault   bool
	whole       *regexp.Regexp // pattern anchored at both ends
	pattern     *regexp.Regexp
	replacement string // a regexp.Expand template
	lower       bool
	upper       bool
}

// errNoRule is the error of a distinguished name no rule applies to.
var errNoRule = errors.New("no ssl.principal.mapping.rules rule applies")

// ruleSyntax is one rule of the list, then a comma or the end (Kafka's syntax): DEFAULT,
// or RULE: with a pattern and a replacement in which a backslash escapes the next
// character (a '/' in particular), and an optional L or U flag.
var ruleSyntax = regexp.MustCompile(`^\s*(?:(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:,|$)`)

// parsePrincipalRules parses ssl.principal.mapping.rules.
func parsePrincipalRules(rules string) (principalMapper, error) {
	var m principalMapper
	rest := strings.TrimSpace(rules)
	for rest != "" {
		if r, ok := strings.CutPrefix(rest, ","); ok { // an empty rule is ignored
			rest = strings.TrimSpace(r)
			continue
		}
		sm := ruleSyntax.FindStringSubmatchIndex(rest)
		if sm == nil {
			return nil, fmt.Errorf("invalid rule at %q: want DEFAULT or RULE:pattern/replacement/[LU], comma-separated", rest)
		}
		group := func(i int) string {
			if sm[2*i] < 0 {
				return ""
			}
			return rest[sm[2*i]:sm[2*i+1]]
		}
		if group(1) != "" {
			m = append(m, principalRule{isDefault: true})
		} else {
			pat := group(2)
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("rule pattern %q: %w", pat, err)
			}
			m = append(m, principalRule{
				whole:       regexp.MustCompile(`^(?:` + pat + `)$`),
				pattern:     re,
				replacement: goTemplate(group(3), re.NumSubexp()),
				lower:       group(4) == "L",
				upper:       group(4) == "U",
			})
		}
		rest = strings.TrimSpace(rest[sm[1]:])
	}
	return m, nil
}

// goTemplate turns a Java replacement string into a regexp.Expand template: $n takes as
// many digits as make a group that exists (Java's rule; a $n beyond the groups is a
// literal, as Kafka escapes it), ${name} stays, a backslash makes the next character
// literal.
func goTemplate(java string, groups int) string {
	var b strings.Builder
	for i := 0; i < len(java); i++ {
		c := java[i]
		switch {
		case c == '\\' && i+1 < len(java):
			i++
			if java[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(java[i])
			}
		case c == '$' && i+1 < len(java) && java[i+1] >= '1' && java[i+1] <= '9':
			n, j := int(java[i+1]-'0'), i+2
			if n > groups {
				b.WriteString("$$")
				continue
			}
			for j < len(java) && java[j] >= '0' && java[j] <= '9' && n*10+int(java[j]-'0') <= groups {
				n, j = n*10+int(java[j]-'0'), j+1
			}
			fmt.Fprintf(&b, "${%d}", n)
			i = j - 1
		case c == '$' && i+1 < len(java) && java[i+1] == '{':
			b.WriteByte('$')
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// name maps a distinguished name to a principal name.
func (m principalMapper) name(dn string) (string, error) {
	for _, r := range m {
		if r.isDefault {
			return dn, nil
		}
		if !r.whole.MatchString(dn) {
			continue
		}
		s := r.pattern.ReplaceAllString(dn, r.replacement)
		switch {
		case r.lower:
			s = strings.ToLower(s)
		case r.upper:
			s = strings.ToUpper(s)
		}
		return s, nil
	}
	return "", fmt.Errorf("%w to %q", errNoRule, dn)
}
