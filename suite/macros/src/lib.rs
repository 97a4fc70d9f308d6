//! `#[case(...)]`: declare a conformance case on an ordinary, formatted `fn`.
//!
//! ```ignore
//! /// a lock made by plain touch blocks updates
//! #[case(id = "L2", title = "touch counts", promise = |_| Promise::Pass)]
//! fn l2_touch_counts(ctx: &mut Ctx) -> CaseResult { ... }
//! ```
//!
//! The function is left as written (rustfmt and rust-analyzer see it); the
//! attribute adds an `inventory` registration whose `spec` is the function's
//! doc comment, so the SPEC text lives in one place, above the body.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Register the annotated `fn(&mut Ctx) -> CaseResult` as a case. Arguments:
/// `id = "L2"`, `title = "..."`, `promise = <fn(&Profile) -> Promise>`, and
/// optionally `needs = [PauseHook, Restart, StepPauseHook]`.
#[proc_macro_attribute]
pub fn case(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let func: ItemFn = syn::parse2(item)?;
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let (mut id, mut title, mut promise, mut needs) = (None, None, None, Vec::new());
    for meta in metas {
        let Meta::NameValue(nv) = meta else {
            return Err(syn::Error::new_spanned(meta, "expected `name = value`"));
        };
        let name = nv
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match name.as_str() {
            "id" => id = Some(nv.value),
            "title" => title = Some(nv.value),
            "promise" => promise = Some(nv.value),
            "needs" => match nv.value {
                Expr::Array(arr) => needs = arr.elems.into_iter().collect(),
                other => return Err(syn::Error::new_spanned(other, "needs = [Need, ...]")),
            },
            _ => return Err(syn::Error::new_spanned(nv.path, "unknown case argument")),
        }
    }
    let missing = |what: &str| {
        syn::Error::new_spanned(&func.sig.ident, format!("#[case] needs `{what} = ...`"))
    };
    let id = id.ok_or_else(|| missing("id"))?;
    let title = title.ok_or_else(|| missing("title"))?;
    let promise = promise.ok_or_else(|| missing("promise"))?;
    let spec = doc_text(&func)?;
    let name = &func.sig.ident;
    Ok(quote! {
        #func
        inventory::submit! {
            crate::case::Case {
                id: #id,
                name: concat!(module_path!(), "::", stringify!(#name)),
                title: #title,
                spec: #spec,
                promise: #promise,
                needs: &[#(crate::case::Need::#needs),*],
                body: #name,
            }
        }
    })
}

/// The doc comment of `func` as one line of text; a case without one is a
/// compile error (its doc comment is its SPEC text).
fn doc_text(func: &ItemFn) -> syn::Result<String> {
    let mut lines = Vec::new();
    for attr in &func.attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_string());
            }
        }
    }
    let text = lines.join(" ").trim().to_string();
    if text.is_empty() {
        return Err(syn::Error::new_spanned(
            &func.sig.ident,
            "a case's doc comment is its SPEC text: add one",
        ));
    }
    Ok(text)
}
