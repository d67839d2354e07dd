// UTIF.js ships no types; the tests use its decoder to read the TIFFs written here.
declare module 'utif' {
  /** One image file directory: tags as `t<number>` arrays, plus what decodeImage adds. */
  export interface IFD {
    [tag: string]: any;
    width?: number;
    height?: number;
    data?: Uint8Array;
  }
  export function decode(buffer: ArrayBuffer | Uint8Array): IFD[];
  export function decodeImage(
    buffer: ArrayBuffer | Uint8Array,
    ifd: IFD,
    ifds?: IFD[]
  ): void;
  export function toRGBA8(ifd: IFD): Uint8Array;
}
