"""What a surprising result means, read from the record that holds it (issue 18, item 5).

A lab's headline number can go against the lecture or the lab's own goal; the reading says which
case this run is in and the likely reason, with the number that shows it, in English and Russian
(:mod:`.text`). One module per lab's result: :mod:`.levels` (lab 01, the graph optimisation
levels), :mod:`.serving` (lab 02, HTTP overhead and dynamic batching), :mod:`.batching` (lab 05,
the fixed cost a of L(n) = a + b·n), :mod:`.runtimes` (lab 05, OpenVINO beside ONNX Runtime).
Every case follows from the numbers, with the run's spread as the line between "different" and
"the same"; no sentence states a result the record does not hold.
"""
