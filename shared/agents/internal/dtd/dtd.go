// Package dtd checks XML documents against the element and attribute rules of a DTD: the
// tests' validator for the ADF documents the connectors send (the fake DealerSocket server
// refuses a lead that does not pass). It understands the part of DTD syntax ADF uses:
// <!ELEMENT name (#PCDATA) | EMPTY | ANY | (content model)> with sequences, choices and the
// ? * + quantifiers, and <!ATTLIST name attr CDATA|(enumeration) #REQUIRED|#IMPLIED|"default">.
package dtd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// DTD is a parsed set of element and attribute declarations.
type DTD struct {
	elements map[string]*element
}

type element struct {
	name  string
	text  bool           // (#PCDATA): text only
	any   bool           // ANY
	model *regexp.Regexp // element content, over "<child>" tokens; nil with text, any or EMPTY
	attrs map[string]attribute
}

type attribute struct {
	values   []string // the enumeration; nil for CDATA and the other string types
	required bool
}

var (
	comments     = regexp.MustCompile(`(?s)<!--.*?-->`)
	declarations = regexp.MustCompile(`(?s)<!(ELEMENT|ATTLIST)\s+([^\s>]+)\s+(.*?)>`)
	modelTokens  = regexp.MustCompile(`#PCDATA|[A-Za-z_][-A-Za-z0-9_.]*|[(),|?*+]|\S`)
)

// Parse reads the declarations of a DTD.
func Parse(text string) (*DTD, error) {
	d := &DTD{elements: map[string]*element{}}
	text = comments.ReplaceAllString(text, "")
	var attlists [][]string
	for _, m := range declarations.FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "ELEMENT":
			if _, dup := d.elements[m[2]]; dup {
				return nil, fmt.Errorf("element %s declared twice", m[2])
			}
			e, err := parseElement(m[2], strings.TrimSpace(m[3]))
			if err != nil {
				return nil, err
			}
			d.elements[e.name] = e
		case "ATTLIST":
			attlists = append(attlists, m)
		}
	}
	for _, m := range attlists {
		e, ok := d.elements[m[2]]
		if !ok {
			return nil, fmt.Errorf("ATTLIST of undeclared element %s", m[2])
		}
		if err := parseAttlist(e, m[3]); err != nil {
			return nil, fmt.Errorf("ATTLIST %s: %w", m[2], err)
		}
	}
	for _, e := range d.elements { // every child an element model names must be declared
		if e.model == nil {
			continue
		}
		for _, name := range regexp.MustCompile(`<([^>]+)>`).FindAllStringSubmatch(e.model.String(), -1) {
			if _, ok := d.elements[name[1]]; !ok {
				return nil, fmt.Errorf("element %s: child %s is not declared", e.name, name[1])
			}
		}
	}
	return d, nil
}

func parseElement(name, spec string) (*element, error) {
	e := &element{name: name, attrs: map[string]attribute{}}
	switch strings.ReplaceAll(spec, " ", "") {
	case "EMPTY":
		return e, nil
	case "ANY":
		e.any = true
		return e, nil
	case "(#PCDATA)":
		e.text = true
		return e, nil
	}
	// A content model becomes a regular expression over the children's names written as
	// "<name>": (id*, year, make) -> (?:(?:<id>)*(?:<year>)(?:<make>)).
	var re strings.Builder
	depth := 0
	for _, tok := range modelTokens.FindAllString(spec, -1) {
		switch tok {
		case "(":
			depth++
			re.WriteString("(?:")
		case ")":
			depth--
			re.WriteString(")")
		case ",":
		case "|", "?", "*", "+":
			re.WriteString(tok)
		case "#PCDATA":
			return nil, fmt.Errorf("element %s: mixed content is not supported", name)
		default:
			if !regexp.MustCompile(`^[A-Za-z_]`).MatchString(tok) {
				return nil, fmt.Errorf("element %s: unexpected %q in content model", name, tok)
			}
			re.WriteString("(?:<" + tok + ">)")
		}
		if depth < 0 {
			return nil, fmt.Errorf("element %s: unbalanced parentheses", name)
		}
	}
	if depth != 0 || !strings.HasPrefix(spec, "(") {
		return nil, fmt.Errorf("element %s: malformed content model %q", name, spec)
	}
	model, err := regexp.Compile("^" + re.String() + "$")
	if err != nil {
		return nil, fmt.Errorf("element %s: %w", name, err)
	}
	e.model = model
	return e, nil
}

var attrTokens = regexp.MustCompile(`"[^"]*"|'[^']*'|\([^)]*\)|#[A-Z]+|[^\s]+`)

func parseAttlist(e *element, spec string) error {
	toks := attrTokens.FindAllString(spec, -1)
	for i := 0; i < len(toks); {
		if i+1 >= len(toks) {
			return fmt.Errorf("incomplete attribute definition at %q", toks[i])
		}
		name, typ := toks[i], toks[i+1]
		i += 2
		var a attribute
		if strings.HasPrefix(typ, "(") {
			for _, v := range strings.Split(strings.Trim(typ, "()"), "|") {
				a.values = append(a.values, strings.TrimSpace(v))
			}
		}
		if i >= len(toks) {
			return fmt.Errorf("attribute %s: missing default", name)
		}
		switch def := toks[i]; def {
		case "#REQUIRED":
			a.required = true
			i++
		case "#IMPLIED":
			i++
		case "#FIXED":
			i += 2
		default:
			if !strings.HasPrefix(def, `"`) && !strings.HasPrefix(def, `'`) {
				return fmt.Errorf("attribute %s: unexpected default %q", name, def)
			}
			if v := strings.Trim(def, `"'`); a.values != nil && !slices.Contains(a.values, v) {
				return fmt.Errorf("attribute %s: default %q is not one of %v", name, v, a.values)
			}
			i++
		}
		e.attrs[name] = a
	}
	return nil
}

// Validate parses doc (it must be well-formed XML) and checks that its root is root and that
// every element is declared, has the children its content model allows in that order, text
// only where text is allowed, and declared attributes with allowed values.
func (d *DTD) Validate(doc []byte, root string) error {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	type open struct {
		e        *element
		children []string
		path     string
	}
	var stack []*open
	seenRoot := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if t.Name.Space != "" {
				return fmt.Errorf("%s: namespaces are not part of the DTD", name)
			}
			path := name
			if len(stack) == 0 {
				if seenRoot {
					return errors.New("more than one root element")
				}
				seenRoot = true
				if name != root {
					return fmt.Errorf("root element is %s, want %s", name, root)
				}
			} else {
				parent := stack[len(stack)-1]
				path = parent.path + ">" + name
				if parent.e.text {
					return fmt.Errorf("%s: element in an element declared (#PCDATA)", path)
				}
				parent.children = append(parent.children, name)
			}
			e, ok := d.elements[name]
			if !ok {
				return fmt.Errorf("%s: element not declared", path)
			}
			if err := checkAttrs(e, t.Attr, path); err != nil {
				return err
			}
			stack = append(stack, &open{e: e, path: path})
		case xml.EndElement:
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.e.model != nil {
				seq := ""
				for _, c := range top.children {
					seq += "<" + c + ">"
				}
				if !top.e.model.MatchString(seq) {
					return fmt.Errorf("%s: children %v do not match the content model", top.path, top.children)
				}
			} else if !top.e.text && !top.e.any && len(top.children) > 0 {
				return fmt.Errorf("%s: EMPTY element has children", top.path)
			}
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			top := stack[len(stack)-1]
			if !top.e.text && !top.e.any && len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("%s: text in element content", top.path)
			}
		case xml.Directive:
			// a DOCTYPE is allowed and ignored
		}
	}
	if !seenRoot {
		return errors.New("no root element")
	}
	return nil
}

func checkAttrs(e *element, attrs []xml.Attr, path string) error {
	seen := map[string]bool{}
	for _, a := range attrs {
		name := a.Name.Local
		if a.Name.Space != "" {
			name = a.Name.Space + ":" + name
		}
		decl, ok := e.attrs[name]
		if !ok {
			return fmt.Errorf("%s: attribute %s not declared", path, name)
		}
		if decl.values != nil && !slices.Contains(decl.values, a.Value) {
			return fmt.Errorf("%s: attribute %s=%q is not one of %v", path, name, a.Value, decl.values)
		}
		seen[name] = true
	}
	for name, decl := range e.attrs {
		if decl.required && !seen[name] {
			return fmt.Errorf("%s: required attribute %s missing", path, name)
		}
	}
	return nil
}
