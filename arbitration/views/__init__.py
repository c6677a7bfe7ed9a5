"""The arbitration pages (职责争议): filing a dispute, the dispute page with the steps its reader may take,
the work queues of the editorial office and of leadership, the ruling and decision forms, and the inbox.

Who sees what is the selectors' answer (``disputes_visible_to``, ``dispute_detail``): a dispute outside it
is a 404 on every URL under it, so a URL does not even confirm it exists. Who may take a step is the state
machine's answer (``TRANSITIONS`` and the services' checks): the page offers exactly those steps, and a
POST for any other is a 403. Every step is one POST and one service call; the services' ``ApplicationError``
comes back as field errors or a message, never as a half-saved row.

Modules: ``common`` (helpers), ``disputes`` (list, queue, filing), ``detail`` (the dispute page),
``steps`` (the POSTs behind its buttons), ``rulings`` (ruling, decision, confirmed agreement), ``inbox``.
"""
