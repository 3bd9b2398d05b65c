#ifndef DSTACK_PROVIDERS_H
#define DSTACK_PROVIDERS_H

/// Package.swift's `providers` list, space-separated ("AWS Local GCP Azure"): the
/// registry reads the built-in providers' names from here, so they are listed once.
const char *dstack_provider_names(void);

#endif
