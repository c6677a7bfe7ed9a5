"""The grievance pages (民生诉求): the dispatchers' intake form, queue and grievance page; the agencies'
inbox of work orders; whistles and their summonses; the figures; and the citizen's status link.

Who sees what is the selectors' answer (``grievances_visible_to``, ``whistles_visible_to``): a grievance
outside it is a 404 on every URL under it. Who may act is asked before the service is called (a 403
otherwise), and the service still decides. Every button is one POST and one service call; the services'
``ApplicationError`` comes back as field errors on the form that was sent or as a message, never as a
half-saved row.

Modules: ``common`` (helpers), ``dispatch`` (intake, queue and the dispatcher's POSTs), ``detail`` (the
grievance page), ``work`` (a work order's forms, shared by the page and the inbox), ``orders`` (the inbox
and the agency's POSTs), ``whistles``, ``figures``, ``citizen`` (the tokenised status link).
"""
