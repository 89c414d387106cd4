/* aos/connstr.h: the "Key=Value;Key=Value" connection strings of Azure (Service Bus, Event
 * Hubs, Storage) — the one splitter; the Service Bus and Storage parsers give the values their
 * meaning. Pure and thread-safe.
 *
 * Parts are split at ';' and each at its first '=' (values such as base64 keys and SAS tokens
 * contain '='); keys match case-insensitively in any order; blanks around keys and values are
 * trimmed; empty parts are skipped; keys the caller does not list are ignored (as the SDKs do,
 * e.g. TransportType). Error messages name the part or the key, never a value (it may be a
 * secret). */
#ifndef AOS_CONNSTR_H
#define AOS_CONNSTR_H

#include <stddef.h>

#include "aos/result.h"

/* Longest connection string the parsers accept. */
#define AOS_CONNSTR_MAX 8192

/* Split work (a writable copy the caller owns; it is cut up in place) by the n keys in keys:
 * out_values[i] points into work at the trimmed value of keys[i] ("" when given empty), or is
 * NULL when absent. AOS_ERR_INVALID for a part without '=', a listed key given twice or a
 * value with control characters. */
aos_result aos_connstr_split(char *work, const char *const *keys, size_t n, char **out_values,
                             char *errbuf, size_t errlen);

#endif
