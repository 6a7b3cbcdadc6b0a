/* The error table: every range has names and messages. */
#include "sk_error.h"
#include "unit.h"

#include <errno.h>
#include <netdb.h>

TEST(error_errno_range)
{
    CHECK_INT(sk_error_from_errno(ECONNREFUSED), -ECONNREFUSED);
    CHECK_STR(sk_err_name(-ECONNREFUSED), "ECONNREFUSED");
    CHECK_STR(sk_err_name(-EMFILE), "EMFILE");
    CHECK(strlen(sk_strerror(-ECONNRESET)) > 0);
    CHECK_INT(sk_error_from_errno(0), -EIO);
}

TEST(error_getaddrinfo_range)
{
    CHECK_INT(sk_error_from_gai(EAI_NONAME), SK_EAI_NONAME);
    CHECK_STR(sk_err_name(SK_EAI_NONAME), "EAI_NONAME");
    CHECK_STR(sk_strerror(SK_EAI_NONAME), "unknown host or service name");
    CHECK(SK_EAI_NONAME <= SK_EAI_BASE && SK_EAI_NONAME > SK_OWN_BASE);
    CHECK_INT(sk_error_from_gai(0), 0);
}

TEST(error_own_range_names_every_code)
{
    CHECK_STR(sk_err_name(SK_EPORT), "SK_EPORT");
    CHECK_STR(sk_strerror(SK_EEOF), "connection closed before all bytes arrived");
    for (int code = SK_OWN_BASE - 1; code > SK_OWN_BASE - 20; code--) {
        CHECK(strcmp(sk_err_name(code), "EUNKNOWN") != 0);
        CHECK(strcmp(sk_strerror(code), "unknown error") != 0);
    }
    CHECK_STR(sk_err_name(SK_OWN_BASE - 99), "EUNKNOWN");
    CHECK_STR(sk_strerror(0), "success");
}
