"""Pictures of a lab, pure: the topology as a diagram (DOT, Mermaid), a probe's path on it. Rendering them
(Graphviz, matplotlib, the HTML report) is in `render`, which needs the `pictures` extra."""
from .diagram import Diagram, build_diagram, is_public
from .dot import to_dot
from .mermaid import to_mermaid
from .overlay import Overlay, probe_overlay

__all__ = ["Diagram", "Overlay", "build_diagram", "is_public", "probe_overlay", "to_dot", "to_mermaid"]
