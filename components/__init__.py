"""Components of the Dossier stack: one ComponentResource per module, plus the stack config."""
