/* hepae C ABI: run a trained hepae autoencoder (model.safetensors) from C or C++.
 *
 * Link: the static library target/release/libhepae.a with -lpthread -ldl -lm
 *       (or the shared library libhepae.so).
 *
 * Handles: one encoder/decoder handle per thread; a handle owns its buffers and takes no
 * lock, so two threads must not use the same handle at once (open one each).
 * Units: inputs and outputs are physical (GeV, rad, ...), in the model's column order
 * (hepae_encoder_column_name); the model's normaliser runs inside.
 * Cost: hepae_encode / hepae_decode of 1 to 4 rows allocate nothing.
 * Errors: every call returns a status (or NULL) and never unwinds into C; the message of
 * the last failure on the calling thread is at hepae_last_error().
 */
#ifndef HEPAE_H
#define HEPAE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEPAE_OK 0
#define HEPAE_ERR_NULL 1     /* a required pointer is NULL */
#define HEPAE_ERR_MODEL 2    /* model file unreadable or invalid */
#define HEPAE_ERR_INPUT 3    /* an input value is NaN/Inf or cannot be normalised */
#define HEPAE_ERR_ARG 4      /* an argument is out of range */
#define HEPAE_ERR_INTERNAL 5 /* a bug in hepae (caught); close the handle */

typedef struct HepaeEncoder hepae_encoder;
typedef struct HepaeDecoder hepae_decoder;

/* Message of the last failed hepae call on this thread ("" if none); valid until the next
 * failing call on this thread. Successful calls leave it unchanged. */
const char *hepae_last_error(void);

/* Opens a model for encoding. Returns NULL on failure; then *status (if status is not NULL)
 * holds the error code and hepae_last_error() the message. */
hepae_encoder *hepae_encoder_open(const char *path, int *status);
void hepae_encoder_close(hepae_encoder *enc);            /* NULL: no-op */
size_t hepae_encoder_input_dim(const hepae_encoder *enc);  /* 0 if enc is NULL */
size_t hepae_encoder_latent_dim(const hepae_encoder *enc); /* 0 if enc is NULL */
/* Name of input column i, owned by the handle; NULL if i is out of range. */
const char *hepae_encoder_column_name(const hepae_encoder *enc, size_t i);
/* in: rows x input_dim floats, row-major, physical units; out: rows x latent_dim floats. */
int hepae_encode(hepae_encoder *enc, const float *in, size_t rows, float *out);

hepae_decoder *hepae_decoder_open(const char *path, int *status);
void hepae_decoder_close(hepae_decoder *dec);
size_t hepae_decoder_latent_dim(const hepae_decoder *dec);
size_t hepae_decoder_output_dim(const hepae_decoder *dec);
/* latent: rows x latent_dim floats; out: rows x output_dim floats, physical units. */
int hepae_decode(hepae_decoder *dec, const float *latent, size_t rows, float *out);

#ifdef __cplusplus
}
#endif

#endif /* HEPAE_H */
