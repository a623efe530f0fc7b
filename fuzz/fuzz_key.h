// The fixed RSA-2048 key of the sealed-secret fuzz targets, so that seed inputs can be real
// sealed values (fuzz/corpus/sealed/, label "prod/db"; fuzz/corpus/sealed_secret/) for the
// fuzzer to mutate. Used only by fuzzing.
#pragma once

#include "secrets/keys.h"

namespace plumb::fuzz {

inline constexpr char kFuzzKeyPem[] = R"(
-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAspkUrAd9oegc02zpLs7sz3avXjs9QPOzY1nQEcq1TOeUwNGa
THyP1vfWC/RAOOITRpW0Rwjlnc5gCmZORMR/+lwJQoN7DZXfEbafFi/vovHuEH90
GCqK10PN+i6TIeaTVYJrUBb4PFSjZYP1t75M45zQCdtlTFuuXLU0I9j/KcYGs73d
r/LcniSApWLvBqjEyZu2RIrj+r5DNL37hRu5wXg0ACmD249UYyp0Lll+St0ARBYn
2XwmOvaREp0KBiYo22BgXakmSnkNKVCnJHGqs/SekXqKqHeQgIlbtLfmsf22VXo5
K5OooYFpLFZGFHPt8Gq6yHG3enJp6xFxi8gm7QIDAQABAoIBADtpjERsG4GETy6Q
QQQWxxV+9HjC+S4FxAvNYVfB2M0UDtqT/6HpIAqRmK2SW9jwcBwfigDFd2knMbDT
9r6Opco52sS7K3DKBhKE72g4mx3YIGtxksPFRzm0Ly3GV6DD7QhZoexbL8oWF+MZ
4mB1GGvxiw10ZD7iEt95UjaIpd2VmGZRGdXpOFJYx8c6Hv0FnQkAvbKk1uFOENYS
KL74+xfuetiR/PwSW/laqOjsdX/bX9agK0Zc9JyaH69Km+cHeT+gRAk7xVMihJbG
c++HVuJ9E2/qy0i/E92xbRbGxmPNfyiWkXOKVC3271VO3dOEFRFOlv9GCdKvPPHX
yGzPPfsCgYEA+CXOjoiGUOiDQ9xcwTPAbpQFnLtgcpvSWiDbpa+v8FEYTs8vXBj7
4CYoq5u2JcYR0UT+8q94Lg1gR3jKxtykFpHL9ij9LDfonz6vFqMHdqMhUUTjphJh
7qjCrB13aBJg3AP8AhJoxy7qgw6qiIqIwkT1yyFSJeunRv3K+jZcpncCgYEAuD/d
tKeGrm/Ei4v1nSssXvw+0RlNXr1rHP6kcBaDCq+nLfm2w/qkOLbKcFoSLq7bKx8Z
oLSo/wXuNed1Qs7paAjTnC5YTmssat8wD5G9Q33D4RmH+NFa/iJfIIyq91DgP429
e3p3hSfNI5WEM9OIQhxQ77+VBpo/VjpiZF/nYrsCgYBCHxjeJATeVEZ9858HoDmb
fXfNXqSBhYHUoELG8HyKJaG7hjuRZ9rdzG0z5QbxI8kloSPqGNWGN+w6vzYRLUPP
+8OEcUGc4bzrifFvr7tSYn+DPz8Fxoov5OoSoLtrkNIcbjddefhPcvHsQCEyxu9Q
DL4OBW/1SMjHAuNuLsQbWwKBgAFaLqVhyWJEXbvsdgwGQhgcX9WnCuNUHpIi6FAO
Sj3s1hxHRekgUM49wTSb5KBFFkS1wLlmOgtNHtd0cG7iF+J0liECUhGZRcUvCCpF
Fo+FP8fKKS5RUwqkc/BIOAUCqfKtdqOOXYwzo5TMRyEeP1TE4m8wB8b5oNdgLFKy
RX97AoGAa+3P+OP/B3ns30VOXkg649GFCQ97M/rqLgX1z1ofi7oG+vOsggCQ3KOQ
w37NrRNg0Fp7vntVVFSrnitm8d7WO5/KT9dxgUMsOMJbX3H5mShK6kULFGwTmntU
N/x09FLs+WohdvYQgr2D+mXwvrZiKEc8WOAut9UQ63mZ/CFIXr0=
-----END RSA PRIVATE KEY-----
)";

// kFuzzKeyPem, parsed once.
inline const secrets::PrivateKey& FuzzSealingKey() {
  static const secrets::PrivateKey* key =
      new secrets::PrivateKey(secrets::PrivateKey::FromPem(kFuzzKeyPem).value());
  return *key;
}

}  // namespace plumb::fuzz
