"""Validates CPSV-AP JSON-LD documents, merged into one graph, against SHACL shapes.

Usage: python validate.py SHAPES.ttl DOCUMENT.jsonld...
Prints the validation report; exits 0 when the data conforms, 1 when not.
Reads local files only: the documents carry their context inline.
"""

import sys

from pyshacl import validate
from rdflib import Graph


def main() -> int:
    shapes_path, *documents = sys.argv[1:]
    data = Graph()
    for document in documents:
        data.parse(document, format="json-ld")
    shapes = Graph().parse(shapes_path, format="turtle")
    conforms, _, report = validate(data, shacl_graph=shapes, inference="none", advanced=False)
    print(f"{len(data)} triples from {len(documents)} documents")
    print(report)
    return 0 if conforms else 1


if __name__ == "__main__":
    sys.exit(main())
