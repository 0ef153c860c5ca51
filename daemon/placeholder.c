int tcmud_core_placeholder;
