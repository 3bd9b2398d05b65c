#include "dstack_providers.h"

// DSTACK_PROVIDERS is defined by Package.swift from its `providers` list.
const char *dstack_provider_names(void) { return DSTACK_PROVIDERS; }
