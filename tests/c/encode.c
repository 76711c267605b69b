/* Calls the hepae C ABI the way trigger code would; driven by tests/c_abi.rs.
 *
 * usage: encode MODEL IN.f32 ROWS LATENT_OUT.f32 RECON_OUT.f32
 *   IN.f32: ROWS x input_dim float32, row-major, physical units.
 * Encodes every row at batch 1, then all rows in one call (must agree closely), decodes the
 * latents, and checks the error paths (NULL handle/pointers, missing model, NaN input).
 * Exit 0 on success; prints "FAIL: ..." and exits 1 otherwise. */
#include "hepae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "FAIL (%s:%d): ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, " [last error: %s]\n", hepae_last_error());    \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

static float *read_floats(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    float *v = malloc(n * sizeof(float));
    CHECK(v != NULL, "out of memory");
    CHECK(fread(v, sizeof(float), n, f) == n, "short read on %s", path);
    fclose(f);
    return v;
}

static void write_floats(const char *path, const float *v, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    CHECK(fwrite(v, sizeof(float), n, f) == n, "short write on %s", path);
    fclose(f);
}

int main(int argc, char **argv) {
    CHECK(argc == 6, "usage: encode MODEL IN.f32 ROWS LATENT_OUT.f32 RECON_OUT.f32");
    const char *model = argv[1];
    size_t rows = (size_t)strtoull(argv[3], NULL, 10);

    /* Error paths: never a crash, always a code and a message. */
    int status = -1;
    CHECK(hepae_encoder_open(NULL, &status) == NULL && status == HEPAE_ERR_NULL, "open(NULL)");
    CHECK(strlen(hepae_last_error()) > 0, "no message for open(NULL)");
    CHECK(hepae_encoder_open("/nonexistent/model.safetensors", &status) == NULL &&
              status == HEPAE_ERR_MODEL,
          "open(missing)");
    CHECK(strstr(hepae_last_error(), "/nonexistent/model.safetensors") != NULL,
          "message does not name the file");
    CHECK(hepae_decoder_open(argv[2], &status) == NULL && status == HEPAE_ERR_MODEL,
          "decoder_open(not a model)");
    float dummy[64] = {0};
    CHECK(hepae_encode(NULL, dummy, 1, dummy) == HEPAE_ERR_NULL, "encode(NULL handle)");
    CHECK(hepae_decode(NULL, dummy, 1, dummy) == HEPAE_ERR_NULL, "decode(NULL handle)");
    CHECK(hepae_encoder_input_dim(NULL) == 0 && hepae_decoder_output_dim(NULL) == 0, "dims(NULL)");
    hepae_encoder_close(NULL);
    hepae_decoder_close(NULL);

    hepae_encoder *enc = hepae_encoder_open(model, &status);
    CHECK(enc != NULL && status == HEPAE_OK, "encoder_open(%s)", model);
    hepae_decoder *dec = hepae_decoder_open(model, NULL);
    CHECK(dec != NULL, "decoder_open(%s)", model);
    size_t d = hepae_encoder_input_dim(enc), l = hepae_encoder_latent_dim(enc);
    CHECK(d > 0 && l > 0 && l < d, "dims %zu %zu", d, l);
    CHECK(hepae_decoder_latent_dim(dec) == l && hepae_decoder_output_dim(dec) == d, "decoder dims");
    CHECK(hepae_encoder_column_name(enc, 0) != NULL && hepae_encoder_column_name(enc, d) == NULL,
          "column names");
    printf("model %s: %zu inputs (first: %s) -> %zu latents\n", model, d,
           hepae_encoder_column_name(enc, 0), l);

    float *in = read_floats(argv[2], rows * d);
    float *z1 = malloc(rows * l * sizeof(float));
    float *zb = malloc(rows * l * sizeof(float));
    float *rec = malloc(rows * d * sizeof(float));
    CHECK(z1 && zb && rec, "out of memory");

    CHECK(hepae_encode(enc, in, 1, NULL) == HEPAE_ERR_NULL, "encode(NULL out)");
    for (size_t r = 0; r < rows; r++)
        CHECK(hepae_encode(enc, in + r * d, 1, z1 + r * l) == HEPAE_OK, "encode row %zu", r);
    CHECK(hepae_encode(enc, in, rows, zb) == HEPAE_OK, "encode batch");
    double worst = 0;
    for (size_t i = 0; i < rows * l; i++) {
        double e = fabs((double)z1[i] - zb[i]) / (1.0 + fabs((double)zb[i]));
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-4, "batch 1 and batch %zu disagree by %g", rows, worst);
    CHECK(hepae_decode(dec, z1, rows, rec) == HEPAE_OK, "decode");

    /* A NaN input: an input error naming the row and column, handle still usable. */
    float *bad = malloc(d * sizeof(float));
    memcpy(bad, in, d * sizeof(float));
    bad[d - 1] = NAN;
    CHECK(hepae_encode(enc, bad, 1, zb) == HEPAE_ERR_INPUT, "NaN input accepted");
    CHECK(strstr(hepae_last_error(), "row 0") != NULL, "NaN message: %s", hepae_last_error());
    CHECK(hepae_encode(enc, in, 1, zb) == HEPAE_OK && zb[0] == z1[0], "handle unusable after error");

    write_floats(argv[4], z1, rows * l);
    write_floats(argv[5], rec, rows * d);
    hepae_encoder_close(enc);
    hepae_decoder_close(dec);
    free(in); free(z1); free(zb); free(rec); free(bad);
    printf("ok: %zu rows encoded at batch 1 and batch %zu, decoded\n", rows, rows);
    return 0;
}
